# why: forgets the absolute value
def probability_saliency(model, x):
    xv = x.detach().clone().requires_grad_(True)
    p = torch.softmax(model(xv), dim=1)
    c = p.argmax(1)
    (g,) = torch.autograd.grad(p[torch.arange(len(x)), c].sum(), xv)
    return g.detach()
