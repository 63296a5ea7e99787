# why: squares the averaged gradient instead of averaging the squared gradients
def smoothgrad_sq(model, x, target, noise):
    x = x.detach()
    S = noise.shape[0]
    noisy = (x[None] + noise.to(x.dtype)).reshape(S * len(x), -1)
    g = logit_grad(model, noisy, target.repeat(S)).reshape(S, *x.shape)
    return (g.mean(0) ** 2).detach()
