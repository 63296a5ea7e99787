# why: treats a calibrated constant confidence as a perfect ranker (m2 = b), label noise as reducible with more data (m3 = a) and ambiguous labels as epistemic (m10 = d)
def mc_answers():
    return {"m1": "c", "m2": "b", "m3": "a", "m4": "b", "m5": "b",
            "m6": "b", "m7": "a", "m8": "a", "m9": "c", "m10": "d"}
