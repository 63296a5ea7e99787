# why: steps against the gradient (x - eps * sign(grad)), which lowers the loss
def fgsm_softmax_regression(W, b, x, y, eps):
    xv = x.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(xv @ W.T + b, y)
    (g,) = torch.autograd.grad(loss, xv)
    return (x - eps * g.sign()).clamp(0.0, 1.0)
