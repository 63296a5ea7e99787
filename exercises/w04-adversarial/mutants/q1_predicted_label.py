# why: ignores the target and runs untargeted FGSM against the model's own prediction
def targeted_fgsm(model, x, target, eps):
    x_var = x.detach().clone().requires_grad_(True)
    logits = model(x_var)
    loss = F.cross_entropy(logits, logits.argmax(dim=1))
    (grad,) = torch.autograd.grad(loss, x_var)
    return torch.clamp(x.detach() + eps * grad.sign(), 0.0, 1.0)
