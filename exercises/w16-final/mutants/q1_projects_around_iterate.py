# why: projects onto the eps-ball around the current iterate instead of the clean input, so the perturbation can grow past eps over the steps
def pgd_linf_step(x, x_clean, grad, alpha, eps):
    stepped = x + (alpha * torch.sign(grad)).clamp(-eps, eps)
    return stepped.clamp(0.0, 1.0)
