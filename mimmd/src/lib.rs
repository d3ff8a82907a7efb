//! mimmd, the mimm client: the Interface Monitor watches every link, the Mobility
//! Manager decides when and where to hand off, and the actions carry it out.
//! Built in the Mobility Manager and daemon issues; the foundation only reserves
//! the crate.
