//! The chain's socket endpoint: [`PluginClient`] (hyperlocal, pooled, judged as dockerd
//! judges replies) as a [`PluginEndpoint`].

use protocol::client::{ClientError, PluginClient};
use protocol::{ActivateManifest, AuthzRequest, Phase};

use crate::chain::{ActivationError, BoxFuture, EndpointAnswer, PluginEndpoint};

impl PluginEndpoint for PluginClient {
    fn activate(&self) -> BoxFuture<'_, Result<ActivateManifest, ActivationError>> {
        Box::pin(async move {
            PluginClient::activate(self)
                .await
                .map_err(|error| match error {
                    ClientError::Activate(refused) => ActivationError::Refused(refused.to_string()),
                    other => ActivationError::Unreachable(other.to_string()),
                })
        })
    }

    fn call<'a>(
        &'a self,
        phase: Phase,
        message: &'a AuthzRequest,
    ) -> BoxFuture<'a, EndpointAnswer> {
        Box::pin(async move {
            match PluginClient::call(self, phase, message).await {
                Ok(answer) => EndpointAnswer::Answered {
                    status: answer.status.as_u16(),
                    body: answer.body.to_vec(),
                    verdict: answer.reply.map_err(|e| e.to_string()),
                },
                Err(error @ ClientError::Encode(_)) => EndpointAnswer::Answered {
                    status: 0,
                    body: Vec::new(),
                    verdict: Err(error.to_string()),
                },
                Err(error) => EndpointAnswer::Unreachable(error.to_string()),
            }
        })
    }
}
