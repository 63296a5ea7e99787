# why: takes the scale's gradient without create_graph, so the penalty cannot be trained
def irm_penalty_binary(logit, y):
    scale = torch.ones((), dtype=logit.dtype, requires_grad=True)
    risk = F.binary_cross_entropy_with_logits(logit * scale, y.to(logit.dtype))
    (grad,) = torch.autograd.grad(risk, [scale])
    return grad ** 2


def irm_objective(logits_by_env, y_by_env, lam):
    total = 0.0
    for logit, y in zip(logits_by_env, y_by_env):
        risk = F.binary_cross_entropy_with_logits(logit, y.to(logit.dtype))
        total = total + risk + lam * irm_penalty_binary(logit, y)
    return total
