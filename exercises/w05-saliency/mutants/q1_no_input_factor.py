# why: returns the gradient of the logit difference and forgets to multiply by x
def contrastive_gxi(model, x, c, c_other):
    xv = x.detach().clone().requires_grad_(True)
    logits = model(xv)
    rows = torch.arange(len(x))
    diff = logits[rows, c] - logits[rows, c_other]
    (g,) = torch.autograd.grad(diff.sum(), xv)
    return g.detach()
