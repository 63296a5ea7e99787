# why: steps along the raw gradient alpha * grad instead of its sign (an L2-style step in an L-infinity attack)
def pgd_linf_step(x, x_clean, grad, alpha, eps):
    offset = (x + alpha * grad - x_clean).clamp(-eps, eps)
    return (x_clean + offset).clamp(0.0, 1.0)
