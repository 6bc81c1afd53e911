//! [`Validate`]: refuses bad input before any call reaches the backend.

use futures::future::BoxFuture;

use super::{Call, Layer, Next};
use crate::error::Result;

/// Checks every object to apply and every name before the call goes on. `tars::connect` puts
/// it outermost, so invalid input never costs a remote call.
#[derive(Debug, Clone, Copy, Default)]
pub struct Validate;

impl Validate {
    fn check(call: &Call<'_>) -> Result<()> {
        if let Some(object) = call.object {
            object.check()?;
        } else if let Some(name) = call.name {
            crate::validate::name(name, "name")?;
        }
        Ok(())
    }
}

impl Layer for Validate {
    fn call<'a, T: Send + 'a>(
        &'a self,
        call: Call<'a>,
        next: Next<'a, T>,
    ) -> BoxFuture<'a, Result<T>> {
        Box::pin(async move {
            Self::check(&call)?;
            next().await
        })
    }
}
