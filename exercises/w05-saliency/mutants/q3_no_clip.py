# why: forgets to clip the counterfactual to the pixel range after each step
def counterfactual_l2(model, x, target, lam, steps, lr):
    x0 = x.detach()
    xc = x0.clone()
    for _ in range(steps):
        xv = xc.clone().requires_grad_(True)
        loss = lam * F.cross_entropy(model(xv), target, reduction="sum")
        loss = loss + ((xv - x0) ** 2).sum()
        (g,) = torch.autograd.grad(loss, xv)
        xc = xc - lr * g
    return xc.detach()
