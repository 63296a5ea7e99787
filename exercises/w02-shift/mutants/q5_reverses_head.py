# why: subtracts lam times the domain loss, which also reverses the domain head's own gradient
def dann_gradients(f_s, y_s, f_t, W, b, v, c, lam):
    n_s = f_s.shape[0]
    f = torch.cat([f_s, f_t]).detach().clone().requires_grad_(True)
    v = v.detach().clone().requires_grad_(True)
    label_loss = F.cross_entropy(f[:n_s] @ W.T + b, y_s)
    domain = torch.cat([torch.zeros(n_s), torch.ones(f_t.shape[0])]).to(f.dtype)
    domain_loss = F.binary_cross_entropy_with_logits(f @ v + c, domain)
    return tuple(torch.autograd.grad(label_loss - lam * domain_loss, [f, v]))
