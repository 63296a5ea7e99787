# why: measures the training error on all of train, not on the examples it was fitted to
def gap_by_size(train, test, sizes=(100, 900), epochs=20, seed=0):
    X, y = train
    gaps = {}
    for size in sizes:
        set_seed(seed)
        model = MLP()
        fit(model, X[:size], y[:size], epochs=epochs, seed=seed, device="cpu",
            progress=False)
        gaps[size] = (1 - evaluate(model, *test)) - (1 - evaluate(model, X, y))
    return gaps
