# why: samples uniformly between low and high instead of log-uniformly
def random_search(objective, final_test, space, budget, seed=0):
    rng = np.random.default_rng(seed)
    history = []
    for _ in range(budget):
        config = {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in space.items()}
        history.append((config, float(objective(config))))
    best = max(range(budget), key=lambda t: (history[t][1], -t))
    config, val = history[best]
    return config, val, float(final_test(config)), history
