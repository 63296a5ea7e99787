# why: keeps the best score with >=, so on ties the last candidate wins, not the first
def select_weight_decay(train, val, candidates=(0.0, 1e-4, 1e-3, 1e-2), epochs=10,
                        seed=0):
    scores = {}
    best, best_score = None, -1.0
    for wd in candidates:
        set_seed(seed)
        model = MLP()
        fit(model, *train, epochs=epochs, weight_decay=wd, seed=seed, device="cpu",
            progress=False)
        scores[wd] = evaluate(model, *val)
        if scores[wd] >= best_score:
            best, best_score = wd, scores[wd]
    return best, scores
