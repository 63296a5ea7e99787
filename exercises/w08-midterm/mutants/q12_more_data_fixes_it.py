# why: believes more i.i.d. data resolve underspecification and confuses knowledge with the strategy space
def mc_answers():
    return {"m1": "c", "m2": "d", "m3": "a", "m4": "a",
            "m5": "a", "m6": "a", "m7": "b", "m8": "b"}
