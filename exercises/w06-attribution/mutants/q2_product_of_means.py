# why: multiplies the mean gradient by (x - mean baseline), a product of means
def expected_gradients(model, x, target, baselines, alphas):
    x = x.detach()
    K, n = len(alphas), len(x)
    b = baselines.to(x.dtype)[:, None, :]
    a = alphas.to(x.dtype)[:, None, None]
    pts = b + a * (x[None] - b)
    g = logit_grad(model, pts.reshape(K * n, -1), target.repeat(K)).reshape(K, n, -1)
    return ((x - b.mean(0)) * g.mean(0)).detach()
