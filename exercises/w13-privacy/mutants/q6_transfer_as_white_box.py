# why: calls the transfer attacks E and F white-box because gradients of a model were used
def threat_models():
    return {
        "A": ("security", "linf_ball", "white"),
        "B": ("privacy", "queries", "black"),
        "C": ("security", "token_suffix", "white"),
        "D": ("privacy", "queries", "black"),
        "E": ("security", "token_suffix", "white"),
        "F": ("security", "linf_ball", "white"),
    }
