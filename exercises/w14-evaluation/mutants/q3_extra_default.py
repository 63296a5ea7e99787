# why: also evaluates a default (geometric-midpoint) configuration: budget + 1 trials
def random_search(objective, final_test, space, budget, seed=0):
    rng = np.random.default_rng(seed)
    default = {k: math.sqrt(lo * hi) for k, (lo, hi) in space.items()}
    history = [(default, float(objective(default)))]
    for _ in range(budget):
        config = {
            k: math.exp(rng.uniform(math.log(lo), math.log(hi)))
            for k, (lo, hi) in space.items()
        }
        history.append((config, float(objective(config))))
    best = max(range(len(history)), key=lambda t: (history[t][1], -t))
    config, val = history[best]
    return config, val, float(final_test(config)), history
