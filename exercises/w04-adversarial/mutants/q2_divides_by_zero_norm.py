# why: divides by the row norm without a guard, so a zero-gradient row becomes nan
def pgd_l2(model, x, y, eps, alpha, steps):
    x0 = x.detach()
    x_adv = x0.clone()
    for _ in range(steps):
        x_var = x_adv.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(F.cross_entropy(model(x_var), y), x_var)
        delta = x_adv + alpha * g / g.norm(dim=1, keepdim=True) - x0
        d_norm = delta.norm(dim=1, keepdim=True)
        scale = torch.clamp(eps / d_norm.clamp_min(1e-30), max=1.0)
        x_adv = torch.clamp(x0 + delta * scale, 0.0, 1.0)
    return x_adv
