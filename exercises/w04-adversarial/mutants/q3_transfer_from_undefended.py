# why: attacks the undefended model (gradient at x, not at the defended input): no BPDA
def bpda_jpeg_pgd(model, x, y, eps, alpha, steps):
    x0 = x.detach()
    x_adv = x0.clone()
    for _ in range(steps):
        x_var = x_adv.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(F.cross_entropy(model(x_var), y), x_var)
        delta = torch.clamp(x_adv + alpha * g.sign() - x0, -eps, eps)
        x_adv = torch.clamp(x0 + delta, 0.0, 1.0)
    return x_adv
