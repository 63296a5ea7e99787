# why: centres Xt in place to compute its covariance by hand, changing the caller's Xt
def _symmetric_power(A, power):
    values, vectors = torch.linalg.eigh(A)
    return vectors @ torch.diag(values ** power) @ vectors.T


def coral_align(Xs, Xt, eps=1.0):
    eye = torch.eye(Xs.shape[1], dtype=Xs.dtype)
    Cs = torch.cov(Xs.T) + eps * eye
    Xt -= Xt.mean(dim=0)
    Ct = Xt.T @ Xt / (Xt.shape[0] - 1) + eps * eye
    return Xs @ _symmetric_power(Cs, -0.5) @ _symmetric_power(Ct, 0.5)
