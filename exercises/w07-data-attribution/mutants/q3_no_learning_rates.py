# why: forgets to weight each checkpoint by its learning rate
def tracin_logistic(checkpoints, lrs, X_train, y_train, X_test, y_test):
    total = np.zeros((len(X_test), len(X_train)))
    for wk in checkpoints:
        g_tr = (sigmoid(X_train @ wk) - y_train)[:, None] * X_train
        g_te = (sigmoid(X_test @ wk) - y_test)[:, None] * X_test
        total += g_te @ g_tr.T
    return total
