# why: takes test-domain validation for fair model selection and a plausible map for a sound one
def mc_answers():
    return {"m1": "c", "m2": "b", "m3": "a", "m4": "b",
            "m5": "d", "m6": "a", "m7": "c", "m8": "a"}
