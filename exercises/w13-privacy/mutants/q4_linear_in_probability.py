# why: treats the probability itself as linear in x and solves with p instead of the logit
def steal_logistic(api, d):
    p = np.asarray(api(np.vstack([np.zeros((1, d)), np.eye(d)])), dtype=np.float64)
    return p[1:] - p[0], float(p[0])
