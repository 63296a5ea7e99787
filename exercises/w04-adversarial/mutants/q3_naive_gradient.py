# why: differentiates through jpeg_quantise, whose gradient is zero, so nothing moves
def bpda_jpeg_pgd(model, x, y, eps, alpha, steps):
    x0 = x.detach()
    x_adv = x0.clone()
    for _ in range(steps):
        x_var = x_adv.clone().requires_grad_(True)
        loss = F.cross_entropy(model(jpeg_quantise(x_var)), y)
        (g,) = torch.autograd.grad(loss, x_var, allow_unused=True)
        g = torch.zeros_like(x_var) if g is None else g
        delta = torch.clamp(x_adv + alpha * g.sign() - x0, -eps, eps)
        x_adv = torch.clamp(x0 + delta, 0.0, 1.0)
    return x_adv
