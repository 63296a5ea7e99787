# why: files model stealing (B) under security because it attacks a deployed service
def threat_models():
    return {
        "A": ("security", "linf_ball", "white"),
        "B": ("security", "queries", "black"),
        "C": ("security", "token_suffix", "white"),
        "D": ("privacy", "queries", "black"),
        "E": ("security", "token_suffix", "black"),
        "F": ("security", "linf_ball", "black"),
    }
