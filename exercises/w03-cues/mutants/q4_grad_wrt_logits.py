# why: squared norm of the gradient w.r.t. the logits, not w.r.t. the scale
def irm_penalty_binary(logit, y):
    z = logit.detach().clone().requires_grad_(True)
    risk = F.binary_cross_entropy_with_logits(z, y.to(z.dtype))
    (grad,) = torch.autograd.grad(risk, [z])
    return (grad ** 2).sum()


def irm_objective(logits_by_env, y_by_env, lam):
    total = 0.0
    for logit, y in zip(logits_by_env, y_by_env):
        risk = F.binary_cross_entropy_with_logits(logit, y.to(logit.dtype))
        total = total + risk + lam * irm_penalty_binary(logit, y)
    return total
