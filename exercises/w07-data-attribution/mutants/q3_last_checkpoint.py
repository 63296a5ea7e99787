# why: TracIn on one checkpoint: uses only the last one
def tracin_logistic(checkpoints, lrs, X_train, y_train, X_test, y_test):
    wk, eta = checkpoints[-1], lrs[-1]
    g_tr = (sigmoid(X_train @ wk) - y_train)[:, None] * X_train
    g_te = (sigmoid(X_test @ wk) - y_test)[:, None] * X_test
    return eta * g_te @ g_tr.T
