# why: builds the confusion matrix with rows = true class and columns = predicted class
def bbse_weights_from_predictions(pred_val, y_val, pred_target, k):
    joint = np.zeros((k, k))
    np.add.at(joint, (np.asarray(y_val), np.asarray(pred_val)), 1.0)
    joint = joint / len(y_val)
    mu_hat = np.bincount(np.asarray(pred_target), minlength=k) / len(pred_target)
    return np.linalg.solve(joint, mu_hat)
