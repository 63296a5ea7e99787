# why: subtracts the wrong way round (training error minus test error)
def gap_by_size(train, test, sizes=(100, 900), epochs=20, seed=0):
    X, y = train
    gaps = {}
    for size in sizes:
        set_seed(seed)
        model = MLP()
        fit(model, X[:size], y[:size], epochs=epochs, seed=seed, device="cpu",
            progress=False)
        gaps[size] = (1 - evaluate(model, X[:size], y[:size])) - (1 - evaluate(model, *test))
    return gaps
