# why: forgets to clip the adversarial example to the valid range [0, 1]
def fgsm_softmax_regression(W, b, x, y, eps):
    xv = x.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(xv @ W.T + b, y)
    (g,) = torch.autograd.grad(loss, xv)
    return x + eps * g.sign()
