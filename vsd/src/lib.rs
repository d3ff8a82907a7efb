//! The virtual subnet device (VSD): a userspace virtual NIC that carries one IP and
//! one shadow MAC over several member links and switches the active member on
//! command. Built in the VSD issue; the foundation only reserves the crate.
