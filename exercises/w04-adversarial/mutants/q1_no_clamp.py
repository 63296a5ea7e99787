# why: forgets to clamp to the pixel range [0, 1]
def targeted_fgsm(model, x, target, eps):
    x_var = x.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(model(x_var), target)
    (grad,) = torch.autograd.grad(loss, x_var)
    return x.detach() - eps * grad.sign()
