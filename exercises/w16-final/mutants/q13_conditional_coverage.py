# why: believes conformal coverage holds for every input (m4 = a), that epsilon is a failure probability (m6 = c) and that temperature scaling changes the predicted classes (m9 = a)
def mc_answers():
    return {"m1": "c", "m2": "a", "m3": "b", "m4": "a", "m5": "b",
            "m6": "c", "m7": "a", "m8": "a", "m9": "a", "m10": "b"}
