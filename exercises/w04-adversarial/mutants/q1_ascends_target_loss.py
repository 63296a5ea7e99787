# why: steps up the loss of the target label, which pushes digits away from the target
def targeted_fgsm(model, x, target, eps):
    x_var = x.detach().clone().requires_grad_(True)
    loss = F.cross_entropy(model(x_var), target)
    (grad,) = torch.autograd.grad(loss, x_var)
    return torch.clamp(x.detach() + eps * grad.sign(), 0.0, 1.0)
