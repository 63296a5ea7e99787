# why: inverts the sigmoid with log p instead of the log-odds log(p / (1 - p))
def steal_logistic(api, d):
    lp = np.log(api(np.vstack([np.zeros((1, d)), np.eye(d)])))
    return lp[1:] - lp[0], float(lp[0])
