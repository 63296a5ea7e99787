# why: measures the distance to the previous iterate instead of the original input
def counterfactual_l2(model, x, target, lam, steps, lr):
    xc = x.detach().clone()
    for _ in range(steps):
        xv = xc.clone().requires_grad_(True)
        loss = lam * F.cross_entropy(model(xv), target, reduction="sum")
        loss = loss + ((xv - xc) ** 2).sum()
        (g,) = torch.autograd.grad(loss, xv)
        xc = torch.clamp(xc - lr * g, 0.0, 1.0)
    return xc.detach()
