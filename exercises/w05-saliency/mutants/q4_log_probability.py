# why: differentiates the log-probability (log_softmax) instead of the probability
def probability_saliency(model, x):
    xv = x.detach().clone().requires_grad_(True)
    lp = torch.log_softmax(model(xv), dim=1)
    c = lp.argmax(1)
    (g,) = torch.autograd.grad(lp[torch.arange(len(x)), c].sum(), xv)
    return g.abs().detach()
