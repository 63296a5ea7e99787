# why: explains the difference of softmax probabilities instead of logits
def contrastive_gxi(model, x, c, c_other):
    xv = x.detach().clone().requires_grad_(True)
    p = torch.softmax(model(xv), dim=1)
    rows = torch.arange(len(x))
    (g,) = torch.autograd.grad((p[rows, c] - p[rows, c_other]).sum(), xv)
    return (x.detach() * g).detach()
