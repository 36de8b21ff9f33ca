//! A bounded cursor over a message body: no read can go past its end.
