# why: keeps training the stage-1 model on the upsampled data instead of a fresh model
def jtt_upsample(X, y, X_eval, T=2, lambda_up=20, epochs=50, weight_decay=1e-2, seed=0):
    set_seed(seed)
    model = MLP(n_in=X.shape[1], n_out=2)
    fit(model, X, y, epochs=T, weight_decay=weight_decay, seed=seed, device="cpu",
        progress=False)
    error_set = torch.nonzero(predict_proba(model, X).argmax(dim=1) != y)[:, 0]
    X_up = torch.cat([X] + [X[error_set]] * (lambda_up - 1))
    y_up = torch.cat([y] + [y[error_set]] * (lambda_up - 1))
    fit(model, X_up, y_up, epochs=epochs, weight_decay=weight_decay, seed=seed,
        device="cpu", progress=False)
    with torch.no_grad():
        logits = model(X_eval)
    return error_set, logits
