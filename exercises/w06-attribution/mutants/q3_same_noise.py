# why: uses the first noise sample for every copy, so all copies are the same
def smoothgrad_sq(model, x, target, noise):
    x = x.detach()
    S = noise.shape[0]
    same = noise[:1].expand_as(noise)
    noisy = (x[None] + same.to(x.dtype)).reshape(S * len(x), -1)
    g = logit_grad(model, noisy, target.repeat(S)).reshape(S, *x.shape)
    return (g**2).mean(0).detach()
