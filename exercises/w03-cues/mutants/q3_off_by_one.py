# why: adds lambda_up extra copies, so each error-set sample appears lambda_up + 1 times
def jtt_upsample(X, y, X_eval, T=2, lambda_up=20, epochs=50, weight_decay=1e-2, seed=0):
    set_seed(seed)
    stage1 = MLP(n_in=X.shape[1], n_out=2)
    fit(stage1, X, y, epochs=T, weight_decay=weight_decay, seed=seed, device="cpu",
        progress=False)
    error_set = torch.nonzero(predict_proba(stage1, X).argmax(dim=1) != y)[:, 0]
    X_up = torch.cat([X] + [X[error_set]] * lambda_up)
    y_up = torch.cat([y] + [y[error_set]] * lambda_up)
    set_seed(seed)
    final = MLP(n_in=X.shape[1], n_out=2)
    fit(final, X_up, y_up, epochs=epochs, weight_decay=weight_decay, seed=seed,
        device="cpu", progress=False)
    with torch.no_grad():
        logits = final(X_eval)
    return error_set, logits
