# why: takes F's strategy to be queries, since the images are sent to an API, not the L-inf ball
def threat_models():
    return {
        "A": ("security", "linf_ball", "white"),
        "B": ("privacy", "queries", "black"),
        "C": ("security", "token_suffix", "white"),
        "D": ("privacy", "queries", "black"),
        "E": ("security", "token_suffix", "black"),
        "F": ("security", "queries", "black"),
    }
