# why: clamps to [0, 1] before projecting onto the L2 ball (the wrong order)
def pgd_l2(model, x, y, eps, alpha, steps):
    x0 = x.detach()
    x_adv = x0.clone()
    for _ in range(steps):
        x_var = x_adv.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(F.cross_entropy(model(x_var), y), x_var)
        g_norm = g.norm(dim=1, keepdim=True)
        z = torch.clamp(x_adv + alpha * g / g_norm.clamp_min(1e-30), 0.0, 1.0)
        delta = z - x0
        d_norm = delta.norm(dim=1, keepdim=True)
        x_adv = x0 + delta * torch.clamp(eps / d_norm.clamp_min(1e-30), max=1.0)
    return x_adv
