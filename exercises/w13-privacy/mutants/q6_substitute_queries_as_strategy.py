# why: takes F's strategy to be its queries to the API rather than the L-inf perturbation
def threat_models():
    return {
        "A": ("security", "linf_ball", "white"),
        "B": ("privacy", "queries", "black"),
        "C": ("security", "token_suffix", "white"),
        "D": ("privacy", "queries", "black"),
        "E": ("security", "token_suffix", "black"),
        "F": ("security", "queries", "black"),
    }
