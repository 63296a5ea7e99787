# why: creates the generator inside the loop, so every trial draws the same config
def random_search(objective, final_test, space, budget, seed=0):
    history = []
    for _ in range(budget):
        rng = np.random.default_rng(seed)
        config = {
            k: math.exp(rng.uniform(math.log(lo), math.log(hi)))
            for k, (lo, hi) in space.items()
        }
        history.append((config, float(objective(config))))
    best = max(range(budget), key=lambda t: (history[t][1], -t))
    config, val = history[best]
    return config, val, float(final_test(config)), history
