# why: uses the conditional confusion P(yhat | y) instead of the joint one (this solves for q_T, not w)
def bbse_weights_from_predictions(pred_val, y_val, pred_target, k):
    joint = np.zeros((k, k))
    np.add.at(joint, (np.asarray(pred_val), np.asarray(y_val)), 1.0)
    conditional = joint / joint.sum(axis=0, keepdims=True)
    mu_hat = np.bincount(np.asarray(pred_target), minlength=k) / len(pred_target)
    return np.linalg.solve(conditional, mu_hat)
