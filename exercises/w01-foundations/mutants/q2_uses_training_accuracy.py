# why: scores each weight decay on the training split instead of the validation split
def select_weight_decay(train, val, candidates=(0.0, 1e-4, 1e-3, 1e-2), epochs=10,
                        seed=0):
    scores = {}
    for wd in candidates:
        set_seed(seed)
        model = MLP()
        fit(model, *train, epochs=epochs, weight_decay=wd, seed=seed, device="cpu",
            progress=False)
        scores[wd] = evaluate(model, *train)
    best = max(candidates, key=lambda wd: scores[wd])
    return best, scores
