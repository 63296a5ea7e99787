# why: takes the gradient of the logit, as in the chapter, not of the probability
def probability_saliency(model, x):
    xv = x.detach().clone().requires_grad_(True)
    z = model(xv)
    c = z.argmax(1)
    (g,) = torch.autograd.grad(z[torch.arange(len(x)), c].sum(), xv)
    return g.abs().detach()
