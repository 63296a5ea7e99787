# why: casts the input to float32 for the gradient, so a float64 model and input break
def targeted_fgsm(model, x, target, eps):
    x_var = x.detach().float().requires_grad_(True)
    loss = F.cross_entropy(model(x_var), target)
    (grad,) = torch.autograd.grad(loss, x_var)
    return torch.clamp(x.float() - eps * grad.sign(), 0.0, 1.0)
